"""Reproduce the five papers' tables: the published numbers as data, and (later) our runs beside them.

:mod:`reproduce.paper_numbers` loads the papers' reference numbers from ``reproduce/data``;
:mod:`reproduce.extract_paper_tables` regenerates that data from the paper texts.
"""
