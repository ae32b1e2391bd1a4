"""The parts of `harness report`'s page: html.py writes the page and its skeleton,
these modules what goes in it.

- window: what the page reads from the history (the runs drawn, their boots, the
  figures the page uses, selected in SQL) and the boots' result.json files;
- markup: the escaping and series anchors every section shares;
- summary, timelines, trends, throughput, matrix: one module per section, each
  deciding what to show and asking plots/ to draw it.
"""
