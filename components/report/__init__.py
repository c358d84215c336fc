"""The static run report (reports/index.html): one offline page over every stage's outputs."""
