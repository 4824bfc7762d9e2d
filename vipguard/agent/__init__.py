"""The asyncio agent: drives one VirtualRouter per instance and family on the real kernel."""
