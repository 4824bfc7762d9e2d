"""Shared by every unit test under tests/.

The test files live in directories that mirror the package's layers (proto/, rules/, config/,
io/, agent/, sim/, cli/, project/), while the helpers they share (routerkit.py, kernel_fake.py,
pcap.py, prerequisites.py) stay here. pytest's default "prepend" import mode puts the directory
of this rootdir-level conftest on sys.path before any test module is imported, so
``from routerkit import ...`` works from every subdirectory, whether the whole tree runs or a
single file does.
"""
