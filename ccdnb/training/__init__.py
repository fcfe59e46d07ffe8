"""Training: augmentation (:mod:`.augment`), losses and optimizers by name
(:mod:`.losses`), the training loop with its model card (:mod:`.train`) and the class
factors fitted on validation images after it (:mod:`.class_factors`, numpy only).

Needs the ``[train]`` extras (imgaug, OpenCV, scikit-learn) besides Keras;
nothing in the prediction path imports this package. Import the submodules
directly (``from ccdnb.training.train import train_model``): this file
imports nothing, so ``import ccdnb.training`` stays cheap.
"""

__all__ = []
