"""Speed and accuracy measurements, reported as ratios against baselines measured in the same run."""
