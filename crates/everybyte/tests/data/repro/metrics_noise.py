# Metrics that differ by far less than any sensible tolerance.
import os, time
with open("metrics.csv", "w") as f:
    f.write("epoch,loss\n1,0.5\n")
    f.write(f"2,{0.25 + (time.time_ns() % 1000) * 1e-12}\n")
