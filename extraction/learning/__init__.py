"""Learning from clerk corrections, pure (no database): the services in ``extraction.services`` feed it.

* ``rules``: where a corrected value stands on the page, candidate anchor and position rules
  derived from that, and their evaluation against a supplier's reviewed documents;
* ``classifier``: a multinomial naive Bayes over the words of documents with a confirmed type,
  stored as JSON;
* ``metrics``: accuracy, precision, recall and F1 per field from reviewed fields;
* ``curve``: the learning-curve benchmark (``manage.py bench learning``).
"""
