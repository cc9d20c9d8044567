"""What a person reads: figures, the HTML report, the calibration report, one person's story and
the teaching app. The only package that imports matplotlib or Solara, and only where a figure
or a page is made.

May import every package before it.
"""
