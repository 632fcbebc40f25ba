"""E-mail intake: IMAP mailboxes (``MailAccount``) whose attachments become documents.

``crypto`` keeps the mailbox password encrypted at rest, ``imap`` speaks IMAP (stdlib
imaplib), ``services`` polls a mailbox and tests its connection, ``admin`` configures it.
"""
