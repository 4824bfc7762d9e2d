"""The sans-I/O VRRP core: codec, authentication, timers and the state machine.

Nothing here reads a clock, touches a socket or logs: inputs carry the time, outputs are effect
values. Only the standard library may be imported (``make lint`` checks it).
"""
