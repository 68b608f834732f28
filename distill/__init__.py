"""Training and knowledge distillation: datasets over render folders, named losses, one trainer for all stages.

    from distill.train import TrainConfig, train, predict, model_from_checkpoint
    from distill.losses import TaskLoss, TeacherLoss, DistillationLoss
    from distill.data import PageDataset, BeatDataset, collate
"""
