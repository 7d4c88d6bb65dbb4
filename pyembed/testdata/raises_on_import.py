raise ImportError("this module fails on import")
