"""Knowledge distillation: data sets (data.py), the teacher (teacher.py) and student (zoo.py) architectures,
the distillation losses (losses.py), the training loop (train.py) and the distill stage (distill.py)."""
