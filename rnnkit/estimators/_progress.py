"""Training progress of the estimators: improvement counting, learning-rate schedules, divergence."""

import numpy as np

__all__ = ["ProgressMixin"]


class ProgressMixin:
    """What :class:`~rnnkit.estimators._base.BaseRNN` decides after each epoch."""

    def _update_no_improvement_count(self, early_stopping):
        if early_stopping:
            score = self.validation_scores_[-1]
            if score < self.best_validation_score_ + self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if score > self.best_validation_score_:
                self.best_validation_score_ = score
                self._best_theta[:] = self._theta
        else:
            if self.loss_ > self.best_loss_ - self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
        if self.loss_ < self.best_loss_:
            self.best_loss_ = self.loss_

    def _schedule_learning_rate(self):
        """The step size after an epoch, by ``learning_rate`` (scikit-learn's MLP rules).

        ``"invscaling"``: ``learning_rate_init / (t_ + 1) ** power_t``;
        ``"adaptive"``: divided by 5 (down to 1e-6) when the no-improvement
        count exceeds ``n_iter_no_change``, which then restarts instead of
        stopping the training.
        """
        opt = self._optimizer
        if self.learning_rate == "invscaling":
            opt.set_learning_rate(self.learning_rate_init / (self.t_ + 1) ** self.power_t)
        if (self.learning_rate == "adaptive" and self._no_improvement_count > self.n_iter_no_change
                and opt.learning_rate > 1e-6):
            opt.set_learning_rate(opt.learning_rate / 5)
            self._no_improvement_count = 0
            if self.verbose >= 2:
                print(f"No improvement for more than {self.n_iter_no_change} epochs: learning rate set to "
                      f"{opt.learning_rate:.6g}")
        self.learning_rate_ = opt.learning_rate

    def _divergence(self, X, loss, status):
        """What went non-finite in an epoch, and what to try."""
        what = ("the loss became non-finite (inf or NaN)" if status or not np.isfinite(loss) else
                "the weights became non-finite (inf or NaN: the gradients overflowed) while the loss was "
                f"{loss:.4g}")
        big = float(np.abs(X).max()) if X.size else 0.0
        hint = (f"The inputs reach {big:.3g} in magnitude: scale them (e.g. sklearn's StandardScaler), "
                "then" if big > 1e3 else "Scale the inputs,")
        return (f"Training diverged at epoch {self.n_iter_ + 1}: {what}. The weights were restored to those "
                f"before this epoch. {hint} lower learning_rate_init or set clip_grad_norm.")
