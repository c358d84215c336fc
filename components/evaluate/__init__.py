"""Multi-seed evaluation of candidate backbones x strategies, champion gate, lineage."""
