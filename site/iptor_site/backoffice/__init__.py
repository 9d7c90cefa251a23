"""The back-office: staff accounts, sign-in, the request and booking views, the marketing export."""
