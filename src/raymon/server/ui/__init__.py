"""What the server shows a person in a browser: static assets (vendored, pinned) and the pages that use them."""
