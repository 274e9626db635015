"""The IO edges to the mail servers: the IMAP mailbox, MIME composition, SMTP,
TLS, and the outbox drain that sends what the desk queued."""
