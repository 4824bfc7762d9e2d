"""Thin kernel adapters: the only place with sockets, netlink, AF_PACKET and clocks."""
