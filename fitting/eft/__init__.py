"""Exemplar Fine-Tuning (Joo et al.): fit SMPL to one person by briefly fine-tuning the regressor."""
