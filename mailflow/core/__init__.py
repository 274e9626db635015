"""The pure core: values in, values out, no IO (no database, IMAP or SMTP).

Reading mail (``mail/``), the complaint format and identity numbers, what a
mail is (``classify``), what a person newly wrote in a reply (``reply_text``),
staff command words, the SOP as values (``sop``) and its state machine
(``ladder``), the working-time calendar, rendering templates, and the words
of all of these (``vocabulary``). Nothing here imports another layer
(``pyproject.toml``'s import contracts keep it so).
"""
