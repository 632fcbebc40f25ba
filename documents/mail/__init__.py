"""E-mail intake: IMAP mailboxes (``MailAccount``) whose attachments become documents.

The mailbox password is encrypted at rest (``system.crypto``), ``imap`` speaks IMAP (stdlib
imaplib), ``services`` polls a mailbox and tests its connection, ``admin`` configures it.
"""
