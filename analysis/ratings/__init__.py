"""Django-free analysis of the human ratings: Table 1, correlations, Q2 calibration, quality.

Arrays and DataFrames in, results out (paper section 3.2, Table 1, appendix 5 and 6.1).
"""
