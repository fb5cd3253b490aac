"""Source plugins, one folder each (telegraf style), behind the registry in `registry.py`."""
