"""The settings of the five tutorials, each in one place.

rnnkit's gallery reproduces five classic RNN tutorials (``shared/TUTORIALS.md``),
and ``tests/test_tutorials.py`` holds their numbers. Both read every setting
of a tutorial (the estimator's parameters, the data, the length of the run,
the seeds and the numbers to reach) from the one object below, so that the
example a user reads and the test that guards it cannot drift apart.

===================  ==========================================  ==============================
Object               Tutorial                                    Gallery example
===================  ==========================================  ==============================
:data:`ECHO`         T1, echo RNN with truncated BPTT            ``plot_echo.py``
:data:`SUBTRACTION`  T2, binary subtraction with a 4-step RNN    ``plot_binary_subtraction.py``
:data:`DIGITS`       T3, LSTM, GRU and variants on digit images  ``plot_digits_variants.py``
:data:`CTC_DIGITS`   T3, CTC transcription of digit strings      ``plot_ctc_digits.py``
:data:`SINE`         T4, sine wave prediction, carried state     ``plot_sine.py``
:data:`RULE_STREAM`  T5, a hidden rule in a bit stream           ``plot_rule_stream.py``
:data:`TOKENS`       token inputs and class weights              ``plot_token_sequences.py``
===================  ==========================================  ==============================

Each is a :class:`Tutorial`; :data:`TUTORIALS` lists the tutorials' examples in order
(T3 has two examples). :data:`TOKENS` belongs to no tutorial. Where a
test deliberately departs from its example (fewer epochs, to keep the test
suite fast), the departure is a named entry of ``Tutorial.test``, with
the reason beside it.
"""

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from .datasets import RULE_STREAM_CHANCE_LOSS, RULE_STREAM_OPTIMAL_LOSS

__all__ = ["CTC_DIGITS", "DIGITS", "ECHO", "RULE_STREAM", "SINE", "SUBTRACTION", "TOKENS", "TUTORIALS",
           "Tutorial"]


def _frozen(value):
    """A read-only copy of ``value``: mappings become read-only, recursively."""
    if isinstance(value, dict | MappingProxyType):
        return MappingProxyType({key: _frozen(item) for key, item in value.items()})
    if isinstance(value, tuple):
        return tuple(_frozen(item) for item in value)
    return value


@dataclass(frozen=True, eq=False)
class Tutorial:
    """The settings of one tutorial, shared by its gallery example and its test.

    The mappings are read-only, so that neither an example nor a test can
    change a setting for the other.

    Parameters
    ----------
    title : str
        The tutorial's title, as the gallery example shows it.
    example : str
        File name of the gallery example, in ``examples/``.
    estimator : mapping
        Keyword arguments of the tutorial's estimator (:class:`~rnnkit.RNNClassifier`
        or :class:`~rnnkit.RNNRegressor`): ``RNNClassifier(**ECHO.estimator)``.
    data : mapping
        Keyword arguments of the call that makes the tutorial's data (its
        generator in :mod:`rnnkit.datasets`, or the train/test split).
    run : mapping
        How the example trains and evaluates beyond the estimator: number of
        epochs, seeds of the data streams, snapshots, the settings of its
        further experiments.
    targets : mapping
        The numbers the tutorial reproduces, which the example prints and the
        test asserts: thresholds (``min_*``, ``max_*``) and exact counts.
    variants : tuple of (str, str, mapping)
        Variations of ``estimator`` the example compares, as ``(key, label,
        params)``: ``key`` names the test case, ``label`` the row of the
        example's table, ``params`` update ``estimator``. Empty if none.
    test : mapping
        Where the test deliberately departs from the example (fewer epochs,
        other seeds, a smaller model), each entry with its reason in the
        source. Empty if the test runs the example's settings.

    Examples
    --------
    >>> from rnnkit import RNNClassifier
    >>> from rnnkit.tutorials import ECHO
    >>> RNNClassifier(**ECHO.estimator).bptt_steps
    15
    >>> ECHO.run["n_epochs"], ECHO.test["n_epochs"]
    (100, 10)
    """

    title: str
    example: str
    estimator: Any
    data: Any
    run: Any = field(default_factory=dict)
    targets: Any = field(default_factory=dict)
    variants: tuple = ()
    test: Any = field(default_factory=dict)

    def __post_init__(self):
        for name in ("estimator", "data", "run", "targets", "variants", "test"):
            object.__setattr__(self, name, _frozen(getattr(self, name)))


#: T1, the echo RNN: a 4-unit tanh RNN echoes a bit stream three steps late,
#: trained by stateful truncated BPTT on a newly drawn stream every epoch.
ECHO = Tutorial(
    title="Echo RNN with truncated BPTT on a stream (T1)",
    example="plot_echo.py",
    estimator=dict(
        cell="rnn",
        hidden_size=4,
        output="sequence",
        solver="adagrad",
        learning_rate_init=0.3,
        alpha=0.0,
        batch_size=5,  # the five rows side by side
        bptt_steps=15,  # the tutorial's truncated_backprop_length
        stateful=True,
        random_state=0,
    ),
    data=dict(n_bits=50_000, echo_step=3, n_rows=5),  # make_echo
    run=dict(
        n_epochs=100,  # one partial_fit per epoch, each on a newly drawn stream
        first_stream_seed=0,  # the stream of epoch 1
        epoch_seed=1,  # a RandomState(epoch_seed) draws the streams of epochs 2 to n_epochs
        fresh_stream_seed=12345,  # the unseen stream the accuracy is measured on
    ),
    targets=dict(
        windows_per_epoch=667,  # 666 windows of 15 steps and one of 10 per row of 10 000 steps
        max_final_loss=0.01,  # mean loss of the last epoch: "near zero"
        min_accuracy=0.99,  # per step on a fresh stream, the first echo_step steps of each row excluded
    ),
    test=dict(
        n_epochs=10,  # the tutorial runs 100; the loss is near zero after two, and CI stays fast
        # the test draws its own streams, independent of the example's: every epoch's from one
        # RandomState(epoch_seed), the unseen one from fresh_stream_seed
        epoch_seed=0,
        fresh_stream_seed=123,
    ),
)

#: T2, binary subtraction: a bias-free 4-unit tanh RNN, plain SGD one sample
#: at a time, gets all 136 subtractions of 4-bit numbers right.
SUBTRACTION = Tutorial(
    title="Binary subtraction with a four-step RNN (T2)",
    example="plot_binary_subtraction.py",
    estimator=dict(
        cell="rnn",
        hidden_size=4,
        bias=False,
        output="sequence",
        solver="sgd",
        learning_rate_init=0.5,
        momentum=0.0,
        alpha=0.0,
        batch_size=1,
        random_state=0,
    ),
    data=dict(n_bits=4),  # make_subtraction: every pair a >= b of 4-bit numbers
    run=dict(
        max_epochs=300,  # train one epoch at a time until all pairs are right, at most this long
        fit_until_stable=dict(max_iter=1500, tol=1e-6, n_iter_no_change=300),  # fit() to a stable loss
        exercise_seeds=6,  # seeds 0 .. 5 for every exercise variant
        eight_bit=dict(n_bits=8, learning_rate_init=0.1, max_epochs=3, seeds=3),  # exercise 4
    ),
    targets=dict(
        n_correct=136,  # all 136 subtractions, every bit right
        worked_examples=((11, 1), (15, 3), (13, 6)),  # (minuend, subtrahend) the tutorial prints
    ),
    variants=(  # exercises 1 to 3
        ("tutorial", "tanh, no bias (tutorial)", {}),
        ("relu", "relu, no bias", dict(nonlinearity="relu")),
        ("bias", "tanh + bias (~ sigmoid)", dict(bias=True)),
        ("hidden-2", "hidden 2", dict(hidden_size=2)),
        ("hidden-2-bias", "hidden 2 + bias", dict(hidden_size=2, bias=True)),
        ("hidden-8", "hidden 8", dict(hidden_size=8)),
        ("hidden-16", "hidden 16", dict(hidden_size=16)),
    ),
)

#: T3, LSTM, GRU and their variants on scikit-learn's 8 x 8 digits read row
#: by row; every variant reaches 0.95 on the held-out quarter.
DIGITS = Tutorial(
    title="LSTM, GRU and their variants on digit images (T3)",
    example="plot_digits_variants.py",
    estimator=dict(
        hidden_size=64,
        solver="adam",
        learning_rate_init=0.01,
        batch_size=64,
        max_iter=30,
        n_iter_no_change=30,  # always the full 30 epochs
        random_state=0,
    ),
    data=dict(test_size=0.25, random_state=0),  # train_test_split(X, y, **data, stratify=y)
    run=dict(
        crop_lengths=(3, 9),  # heights of the cropped images: randint(3, 9), 3 to 8 rows
        crop_seed=0,  # the RandomState drawing those heights
    ),
    targets=dict(min_accuracy=0.95),  # test accuracy of every variant
    variants=(
        ("lstm", "LSTM", dict(cell="lstm")),
        ("gru", "GRU", dict(cell="gru")),
        ("peephole-lstm", "peephole LSTM", dict(cell="lstm", peephole=True)),
        ("layer-norm-gru", "layer-norm GRU", dict(cell="gru", layer_norm=True)),
        ("layer-norm-lstm", "layer-norm LSTM", dict(cell="lstm", layer_norm=True)),
        ("bidirectional-lstm", "bidirectional LSTM", dict(cell="lstm", bidirectional=True)),
        ("2-layer-gru-dropout", "2-layer GRU, dropout 0.2", dict(cell="gru", num_layers=2, dropout=0.2)),
    ),
    test=dict(
        # The variable-length check needs equal predictions, not accurate ones: a small model,
        # trained for 3 epochs, on the first 60 test images keeps it fast.
        variable_length_estimator=dict(
            cell="lstm",
            hidden_size=16,
            bidirectional=True,
            learning_rate_init=0.01,
            max_iter=3,
            random_state=0,
        ),
        n_cropped=60,
    ),
)

#: T3's CTC demo: strings of 3-6 digit images laid side by side with random
#: gaps, one long sequence of pixel columns each; a bidirectional GRU trained
#: with CTC transcribes held-out strings (written with unseen images).
CTC_DIGITS = Tutorial(
    title="Transcribing digit strings with CTC (T3)",
    example="plot_ctc_digits.py",
    estimator=dict(
        cell="gru",
        hidden_size=32,
        bidirectional=True,
        solver="adam",
        learning_rate_init=0.01,
        batch_size=32,
        max_iter=30,
        n_iter_no_change=30,  # always the full 30 epochs
        random_state=0,
    ),
    # make_digit_strings: training strings from the training pool of images, held-out ones
    # from the held-out pool (the same test_fraction splits the images the same way)
    data=dict(min_digits=3, max_digits=6, max_gap=4, noise=0.05, test_fraction=0.25),
    run=dict(
        n_train=1500,
        n_test=300,
        train_seed=0,
        test_seed=1,
        beam_width=10,
        n_shown=8,  # transcriptions printed next to the truth
    ),
    targets=dict(max_label_error_rate=0.05),  # held-out, greedy decoding
    test=dict(
        max_iter=15,  # the example runs 30 epochs; 15 reach the target and keep CI fast
    ),
)

_SINE_POINTS = 21  # samples of each window: the input is the first 20, the target the last 20

#: T4, sine wave prediction: a 32-unit RNN carries its state from window to
#: window, 100 Adam steps, and predicts the next, unseen window.
SINE = Tutorial(
    title="Sine wave prediction with a carried state (T4)",
    example="plot_sine.py",
    estimator=dict(
        cell="rnn",
        hidden_size=32,
        output="sequence",
        solver="adam",
        learning_rate_init=0.01,
        alpha=0.0,
        batch_size=1,
        bptt_steps=_SINE_POINTS - 1,  # one update per window
        stateful=True,  # the state is carried from window to window
        random_state=0,
    ),
    data=dict(n_windows=100, n_points=_SINE_POINTS),  # make_sine_windows: the tutorial's 100 steps
    run=dict(snapshots=(25, 50, 75, 100)),  # training steps after which the prediction is shown
    targets=dict(max_next_mse=1e-3),  # mean squared error on the next, unseen window
    test=dict(
        # the example trains with random_state=0; the test checks two more seeds, so that the
        # bound does not hold by the luck of one seed
        seeds=(0, 1, 2),
    ),
)

#: T5, a hidden rule in a bit stream: a 6-unit RNN with 5-step truncated BPTT
#: learns the rule (loss 0.5 ln 2) unless the rule lies beyond the window (ln 2).
RULE_STREAM = Tutorial(
    title="Learning a hidden rule in a bit stream (T5)",
    example="plot_rule_stream.py",
    estimator=dict(
        cell="rnn",
        hidden_size=6,
        output="sequence",
        solver="adagrad",
        learning_rate_init=0.1,
        alpha=0.0,
        batch_size=2000,  # all rows in one batch
        bptt_steps=5,  # the tutorial's time_step
        stateful=True,
        max_iter=10,  # passes over the stream: 500 updates
        random_state=0,
    ),
    data=dict(n_bits=500_000, lag=1, n_rows=2000, random_state=0),  # make_rule_stream
    run=dict(
        lag_beyond=10,  # the rule's two bits lie two windows back: not learned
        fresh_stream_seed=1,  # the unseen stream the models are scored on
        lags=tuple(range(1, 9)),  # the sweep over the rule's lag
    ),
    targets=dict(
        optimal_loss=RULE_STREAM_OPTIMAL_LOSS,  # rule learned: loss of the last pass within tolerance
        tolerance=0.01,
        chance_loss=RULE_STREAM_CHANCE_LOSS,  # rule beyond the window: at most chance_loss + tolerance
        min_chance_loss=0.68,  # ... and at least this
    ),
)

#: Token inputs (beyond the five tutorials): the three-digit numbers spelled in
#: English words, one word id per step (:func:`rnnkit.datasets.make_number_words`);
#: does the number start and end with the same digit (1 in 10)? An LSTM with an
#: 8-number embedding per word, with and without ``class_weight="balanced"``.
TOKENS = Tutorial(
    title="Classifying token sequences: spelled-out numbers",
    example="plot_token_sequences.py",
    estimator=dict(
        embedding_dim=8,  # the example adds n_tokens=len(NUMBER_WORDS) (28 words)
        cell="lstm",
        hidden_size=16,
        solver="adam",
        learning_rate_init=0.005,
        batch_size=32,
        max_iter=25,
        n_iter_no_change=25,  # always the full 25 epochs
        random_state=0,
    ),
    data=dict(test_size=0.5, random_state=0),  # train_test_split(X, y, **data, stratify=y)
    run=dict(
        numbers=(100, 1000),  # make_number_words(*numbers): every three-digit number
        long_max_iter=200,  # the longer run of the comparison over seeds
        seeds=(0, 1, 2, 3, 4),  # splits (data's random_state) and initialisations of that comparison
    ),
    # held-out balanced accuracy after max_iter epochs, class_weight="balanced" minus no weights,
    # for every seed (measured: +0.18 to +0.31)
    targets=dict(min_gain=0.1),
)

#: The tutorials' examples in their order, T1 to T5.
TUTORIALS = (ECHO, SUBTRACTION, DIGITS, CTC_DIGITS, SINE, RULE_STREAM)
