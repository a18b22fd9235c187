"""A small Python file several integration tests index and search."""

UPLOAD_PY = '''def upload_with_retry(client, path, attempts=3):
    """Upload a file, retrying on connection errors."""
    for attempt in range(attempts):
        try:
            return client.put(path)
        except ConnectionError:
            continue
    raise RuntimeError("upload failed")


def parse_config(text):
    return dict(line.split("=", 1) for line in text.splitlines())
'''
