"""The parameter and attribute documentation the estimators share (numpydoc sections)."""

_MODEL_DOC = """
    Parameters
    ----------
    cell : {"rnn", "lstm", "gru"}, default="lstm"
        Recurrent cell family (PyTorch's formulations).
    hidden_size : int, default=32
        Units of each layer's state.
    num_layers : int, default=1
        Stacked recurrent layers; layer k+1 reads layer k's per-step outputs.
    nonlinearity : {"tanh", "relu"}, default="tanh"
        Activation of the ``"rnn"`` cell.
    bidirectional : bool, default=False
        Add a reverse direction to each layer.
    peephole : bool, default=False
        Peephole connections from the cell state to the gates (``"lstm"``).
    layer_norm : bool, default=False
        Layer-normalised cell (``"gru"``, ``"lstm"``).
    dropout : float, default=0.0
        Inverted-dropout rate between layers and on the features fed to the
        head during training (never on the recurrent path).
    bias : bool, default=True
        Whether the recurrent layers and the head have biases.
    forget_bias : float or None, default=1.0
        Initial forget-gate bias of ``"lstm"`` cells (Keras' and
        TensorFlow's ``forget_bias``); None keeps PyTorch's initialisation.
"""

_OUTPUT_DOC = """    output : {"last", "sequence"}, default="last"
        ``"last"``: one target per sequence, read from the sequence's last
        valid step; ``"sequence"``: one target per valid time step.
"""

_TRAINING_DOC = """    solver : {"sgd", "adagrad", "rmsprop", "adam"}, default="adam"
        Optimizer (see :mod:`rnnkit.optim`).
    learning_rate_init : float, default=0.001
        Initial step size (the rate of SGD and Adagrad, the ``alpha`` of Adam
        and RMSprop).
    learning_rate : {"constant", "invscaling", "adaptive"}, default="constant"
        Schedule of the step size over epochs, as scikit-learn's MLP defines
        it, for every solver: ``"constant"`` keeps ``learning_rate_init``;
        ``"invscaling"`` sets it to ``learning_rate_init / (t_ + 1) **
        power_t`` after each epoch (``t_``: sequences seen); ``"adaptive"``
        keeps it while the training loss (or the validation score under
        ``early_stopping``) improves, and divides it by 5 each time it has
        not improved by ``tol`` for more than ``n_iter_no_change`` epochs,
        instead of stopping (it stops when the rate is below 1e-6). The
        current rate is ``learning_rate_``.
    power_t : float, default=0.5
        Exponent of ``"invscaling"``.
    momentum : float, default=0.9
        Momentum of ``"sgd"``.
    nesterovs_momentum : bool, default=True
        Nesterov momentum for ``"sgd"`` (when ``momentum > 0``).
    beta_1, beta_2 : float, default=0.9, 0.999
        Adam's moment decay rates.
    rho : float, default=0.9
        RMSprop's decay rate.
    epsilon : float, default=1e-8
        Added to the denominator of the adaptive solvers.
    alpha : float, default=0.0001
        Strength of the L2 penalty on the weight matrices; as in scikit-learn's
        MLP it is divided by the batch size (each update's gradient gets
        ``alpha / batch_size * W``).
    clip_grad_norm : float or None, default=None
        Clip each update's gradient to this global L2 norm.
    batch_size : int or "auto", default="auto"
        Sequences per mini-batch; ``"auto"`` is ``min(32, n_samples)``.
    max_iter : int, default=200
        Maximum number of epochs (passes over the data).
    shuffle : bool, default=True
        Shuffle the sequences every epoch (ignored when ``stateful``).
    tol : float, default=1e-4
        Minimum improvement of the training loss (or validation score) that
        resets the no-improvement counter.
    n_iter_no_change : int, default=10
        Stop after this many epochs without an improvement of ``tol``.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the sequences, stop when their
        score stops improving and keep the best weights.
    validation_fraction : float, default=0.1
        Share of sequences held out for early stopping.
    bptt_steps : int or None, default=None
        Truncated backpropagation through time: train on windows of this many
        steps (one update per window); None = the whole sequence.
    stateful : bool, default=False
        With ``bptt_steps``, each row's final state is the initial state of
        its next window (gradients do not cross windows); rows keep their
        order (no shuffling) and states reset at every epoch. This is the
        streaming setting of the echo and rule-stream tutorials.
    warm_start : bool, default=False
        Continue from the previous ``fit``'s weights and optimizer state.
    random_state : int, RandomState instance or None, default=None
        Seeds initialisation, shuffling, early-stopping split and dropout:
        the same integer gives bit-identical weights on the CPU.
    verbose : int, default=0
        ``1``: a progress bar over epochs with the current loss; ``2``: also
        one line per epoch.
    device : {"cpu", "cuda", "auto"}, default="cpu"
        Where the kernels run: ``"cuda"`` an NVIDIA GPU through ``numba.cuda``
        (``pip install "rnnkit[cuda]"``; an error says what is missing when
        none is usable), ``"auto"`` a GPU when one is usable, else the CPU.
        A model fitted on the GPU pickles with host arrays and predicts on the
        CPU (with a warning) where no GPU is usable. See the user guide's GPU section.
    embedding_dim : int or None, default=None
        None: the inputs are numbers. An int: ``X`` holds integer token ids
        (a 2-D integer array or a list of 1-D integer arrays, ids in
        ``[0, n_tokens)``), and an embedding table ``(n_tokens,
        embedding_dim)`` -- PyTorch's ``nn.Embedding``, ``coefs_["embedding.weight"]``
        -- is learned in front of the first layer (no L2 penalty on it).
    n_tokens : int or None, default=None
        Vocabulary size with ``embedding_dim``; None takes the largest id of
        the first ``fit`` or ``partial_fit`` plus one. An id outside the
        vocabulary later is a ``ValueError``.
    dtype : {"float32", "float64"}, default="float32"
        Precision of the weights and the computation. float32 is the fast
        default; float64 uses exact transcendental functions.
"""

_PARAMS_DOC = _MODEL_DOC + _OUTPUT_DOC + _TRAINING_DOC

_ATTRS_DOC = """
    n_features_in_ : int
        Features per time step seen during fit.
    loss_ : float
        Mean training loss of the last epoch (without the L2 term).
    best_loss_ : float
        Lowest ``loss_`` so far.
    loss_curve_ : list of float
        Mean training loss of each epoch.
    batch_loss_curve_ : list of float
        Mean loss of each update (mini-batch or truncated-BPTT window).
    validation_scores_ : list of float or None
        Validation score of each epoch under ``early_stopping``.
    best_validation_score_ : float or None
        Best of ``validation_scores_``.
    n_iter_ : int
        Epochs run.
    learning_rate_ : float
        Step size of the next update (see ``learning_rate``).
    t_ : int
        Training sequences seen.
    coefs_ : dict of str to ndarray
        Weights with PyTorch's names, shapes and gate order.
"""
