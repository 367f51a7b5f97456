"""Presenting scores: the printed tables and results files (`tables`), reliability diagrams
(`reliability`), SOD curves (`curves`), the comparison of several runs (`comparison`, with its
LaTeX table), and the HTML report of every image (`html`, its rows `rows`, the files' `names`).
Import from the submodules."""
