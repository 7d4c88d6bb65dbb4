MESSAGE = b"found through --pythonpath"
