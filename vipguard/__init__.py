"""vipguard: a VRRP-compatible high-availability agent for Linux load balancers."""

__version__ = "0.1.0"
