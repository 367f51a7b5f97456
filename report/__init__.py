"""Presenting scores: the printed tables and results files (`tables`), reliability diagrams
(`reliability`), SOD curves (`curves`) and the comparison of several runs (`comparison`, with its
LaTeX table). Import from the submodules."""
