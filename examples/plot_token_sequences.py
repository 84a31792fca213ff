"""
================================================
Classifying token sequences: spelled-out numbers
================================================

With ``embedding_dim`` set, :class:`rnnkit.RNNClassifier` reads **token ids**
instead of numbers: ``X`` is a list of 1-D integer arrays of different
lengths (or a 2-D integer array), and a table of ``embedding_dim`` numbers per
token -- PyTorch's ``nn.Embedding``, ``coefs_["embedding.weight"]`` -- is
learned in front of the first layer.

The sequences here are the three-digit numbers written out in English, one
word per step: 343 is ``three hundred forty three``, four ids. The question
is **does the number start and end with the same digit?** One number in ten
does (101, 111, 121, ..., 999), a 9:1 imbalance. The words hold the answer:
the first word is the first digit, and the last word ends the number either
on a digit (``three``, ``thirteen``) or on a zero (``thirty``, ``hundred``).
The network has to carry the first word to the end of the sequence and
compare it with the last one.

A classifier that always answers "no" is right 90 % of the time, so the
accuracy says little here. The **balanced accuracy** (the mean of the two
classes' recalls) and the recall of the rare class say more. The example
trains the same model with and without ``class_weight="balanced"`` and
compares them on held-out numbers.
"""

# %%
# Words and token ids
# -------------------
# Every setting of this example is in :data:`rnnkit.tutorials.TOKENS`, which
# its test reads too. :func:`~rnnkit.datasets.make_number_words` spells the
# numbers: the vocabulary is the 28 words of the numbers, numbered in counting
# order (:data:`~rnnkit.datasets.NUMBER_WORDS`), and a number is the array of
# its words' ids. The sequences have 2 to 4 steps (``one
# hundred``, ``three hundred forty three``), and the estimator takes them as
# they are, a plain list of arrays of different lengths.
import time
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import ConfusionMatrixDisplay, accuracy_score, balanced_accuracy_score, recall_score
from sklearn.model_selection import train_test_split

from rnnkit import RNNClassifier
from rnnkit.datasets import NUMBER_WORDS, make_number_words
from rnnkit.plotting import plot_comparison, plot_loss_curve
from rnnkit.tutorials import TOKENS

VOCAB = list(NUMBER_WORDS)  # token id = position
UNITS, TEENS, TENS = VOCAB[:9], VOCAB[9:19], VOCAB[19:27]
TOKEN_ID = {word: i for i, word in enumerate(VOCAB)}

X, y, numbers = make_number_words(*TOKENS.run["numbers"])  # y: the first digit is the last digit
names = [" ".join(VOCAB[i] for i in x) for x in X]

print(f"vocabulary: {len(VOCAB)} words")
for row in range(0, len(VOCAB), 7):
    print("  ".join(f"{i:2d} {VOCAB[i]:9s}" for i in range(row, min(row + 7, len(VOCAB)))))
print()
print(f"{'number':>6s}  {'words':26s}  {'token ids':16s}  same digit")
for n in (100, 111, 342, 343, 710, 717, 990):
    i = n - numbers[0]
    print(f"{n:6d}  {names[i]:26s}  {str(X[i].tolist()):16s}  {'yes' if y[i] else 'no'}")
n_words = np.bincount([len(x) for x in X])
print(f"\n{len(X)} numbers of 2, 3 and 4 words ({n_words[2]}, {n_words[3]}, {n_words[4]}); "
      f"{y.sum()} start and end with the same digit ({y.mean():.0%})")

# %%
# Half of the numbers are held out, stratified, so that both halves keep the
# 9:1 ratio: 45 "yes" numbers to learn from, 45 to test on.
idx_train, idx_test = train_test_split(np.arange(len(X)), **TOKENS.data, stratify=y)
X_train, X_test = [X[i] for i in idx_train], [X[i] for i in idx_test]
y_train, y_test = y[idx_train], y[idx_test]
print(f"train: {len(X_train)} numbers ({y_train.sum()} yes), test: {len(X_test)} ({y_test.sum()} yes)")

# %%
# With and without class weights
# ------------------------------
# The same LSTM (16 units, 8 numbers per word) is trained twice for 25
# epochs. ``class_weight="balanced"`` weighs every training sequence by
# ``n_samples / (n_classes * n_samples_of_its_class)``: a "yes" counts 5
# times, a "no" 0.56 times, and both classes weigh the same in the loss.
# ``n_tokens=len(VOCAB)`` sets the number of rows of the table; left out, it
# would be the largest id in the training sequences plus one. (The first fit
# of a process also loads rnnkit's compiled kernels.)
warnings.filterwarnings("ignore", category=ConvergenceWarning)  # a fixed number of epochs
runs = {"no class_weight": None, 'class_weight="balanced"': "balanced"}
models = {}
for label, class_weight in runs.items():
    start = time.perf_counter()
    models[label] = RNNClassifier(**TOKENS.estimator, n_tokens=len(VOCAB), class_weight=class_weight)
    models[label].fit(X_train, y_train)
    print(f"{label}: trained in {time.perf_counter() - start:.2f} s")

# %%
# The loss curves show what the weights change. Without them, the loss falls
# within three epochs to 0.325, the entropy of a 9:1 coin: the loss of
# answering "yes with probability 0.1" to every number, whatever its words.
# It rests there for about ten epochs, because the few "yes" numbers hardly
# move the mean, and only then starts to fall below it. With balanced
# weights the same answer costs ln 2 = 0.693, as much as knowing nothing, so
# the only way down is to tell the classes apart. (The weighted loss is the
# weighted mean over the sequences; the two curves measure different things
# and their values are not comparable.)
prior = y_train.mean()
coin = float(-(prior * np.log(prior) + (1 - prior) * np.log(1 - prior)))
ax = plot_loss_curve(
    {label: model.loss_curve_ for label, model in models.items()},
    xlabel="epoch",
    ylabel="training loss (weighted mean of the log loss)",
    hlines={f"p(yes) = {prior:.1f} for every number: {coin:.3f}": coin, "ln 2 = 0.693": float(np.log(2))},
)
ax.legend(loc="lower left", fontsize="small")
ax.set_title(f"training loss, {TOKENS.estimator['max_iter']} epochs")

# %%
# Held-out numbers
# ----------------
# Without the weights the model is right on 90 % of the held-out numbers,
# exactly as often as "no" always is. The balanced accuracy and the recall
# of "yes" show the difference.
print(f"{'':26s} {'accuracy':>9s} {'balanced accuracy':>18s} {'recall of yes':>14s}")
predictions = {}
for label, model in models.items():
    y_pred = predictions[label] = model.predict(X_test)
    print(f"{label:26s} {accuracy_score(y_test, y_pred):9.3f} "
          f"{balanced_accuracy_score(y_test, y_pred):18.3f} {recall_score(y_test, y_pred):14.3f}")
gain = (balanced_accuracy_score(y_test, predictions['class_weight="balanced"'])
        - balanced_accuracy_score(y_test, predictions["no class_weight"]))
print(f"balanced accuracy gained with the weights: {gain:+.3f} "
      f"(required: >= {TOKENS.targets['min_gain']})")

fig, axes = plt.subplots(1, 2, figsize=(9, 4))
for ax, (label, y_pred) in zip(axes, predictions.items(), strict=True):
    ConfusionMatrixDisplay.from_predictions(y_test, y_pred, display_labels=["no", "yes"], ax=ax,
                                            colorbar=False, cmap="Blues")
    ax.set_title(label)
    ax.set_xlabel("predicted: same first and last digit")
    ax.set_ylabel("true")
fig.suptitle(f"{len(y_test)} held-out numbers, {TOKENS.estimator['max_iter']} epochs")
fig.tight_layout()

# %%
# The "yes" numbers the balanced model misses are of two rare forms,
# ``two hundred two`` and ``two hundred twelve``. Each has nine numbers, one
# per first digit, and the training half holds only three or four of them,
# against 38 of the 72 numbers of the common form, ``two hundred forty two``.
# The price of the weights is the false alarms.
rest = numbers % 100
forms = {"two hundred two": rest == numbers // 100, "two hundred twelve": rest == 10 + numbers // 100,
         "two hundred forty two": (y == 1) & (rest >= 20)}
print("yes numbers by form, in the training half / in all:",
      "; ".join(f"{form}: {mask[idx_train].sum()} / {mask.sum()}" for form, mask in forms.items()))
y_pred = predictions['class_weight="balanced"']
missed = [names[i] for i in idx_test[(y_test == 1) & (y_pred == 0)]]
false_alarms = [names[i] for i in idx_test[(y_test == 0) & (y_pred == 1)]]
print(f"missed ({len(missed)}):", "; ".join(missed))
print(f"false alarms ({len(false_alarms)}), the first five:", "; ".join(false_alarms[:5]))

# %%
# Other splits, other seeds, longer runs
# --------------------------------------
# One split with 45 test positives is a small sample, and 25 epochs is a
# short run. Here is the comparison again with other seeds (each a new split
# and a new initialisation), after 25 and after 200 epochs:
short_run = TOKENS.estimator
long_max_iter = TOKENS.run["long_max_iter"]
long_run = {**short_run, "max_iter": long_max_iter, "n_iter_no_change": long_max_iter}
budgets = {f"{short_run['max_iter']} epochs": short_run, f"{long_run['max_iter']} epochs": long_run}
results = {(budget, label): [] for budget in budgets for label in runs}  # (balanced acc., recall) per seed
seconds = dict.fromkeys(results, 0.0)
long_models = {}  # the 200-epoch models of the split above, for the embedding below
for seed in TOKENS.run["seeds"]:
    i_train, i_test = train_test_split(np.arange(len(X)), **{**TOKENS.data, "random_state": seed},
                                       stratify=y)
    for budget, params in budgets.items():
        for label, class_weight in runs.items():
            start = time.perf_counter()
            model = RNNClassifier(**{**params, "random_state": seed}, n_tokens=len(VOCAB),
                                  class_weight=class_weight).fit([X[i] for i in i_train], y[i_train])
            seconds[budget, label] += time.perf_counter() - start
            y_pred = model.predict([X[i] for i in i_test])
            results[budget, label].append((balanced_accuracy_score(y[i_test], y_pred),
                                           recall_score(y[i_test], y_pred)))
            if params is long_run and seed == TOKENS.data["random_state"]:
                long_models[label] = model

for column, title in enumerate(["balanced accuracy", "recall of yes"]):
    print(f"{title + ', seed':38s}" + "".join(f"{seed:>6d}" for seed in TOKENS.run["seeds"]) + "  mean")
    for (budget, label), scores in results.items():
        values = np.array(scores)[:, column]
        row = "".join(f"{value:6.3f}" for value in values)
        print(f"  {budget + ', ' + label:36s}{row}{values.mean():6.3f}")
for budget in budgets:
    gains = np.array(results[budget, 'class_weight="balanced"'])[:, 0] - np.array(
        results[budget, "no class_weight"])[:, 0]
    print(f"{budget}: balanced accuracy gained with the weights: mean {gains.mean():+.3f}, "
          f"smallest {gains.min():+.3f}")

# %%
# The weights matter most early on: after 25 epochs the unweighted model has
# barely started on the rare class. After 200 epochs it has found most of
# it, and the weights still buy recall of "yes" on the held-out numbers, at
# the price of more false alarms. A fit takes the same time with or without
# them.
ax = plot_comparison(
    [f"{budget}\n{label}" for budget, label in results],
    [np.mean(scores, axis=0)[0] for scores in results.values()],
    times=[seconds[key] / len(TOKENS.run["seeds"]) for key in results],
    ylabel="held-out balanced accuracy",
    ylim=(0.4, 1.0),
)
ax.axhline(0.5, color="0.5", linestyle="--", linewidth=1.0)
ax.set_title(f"mean over {len(TOKENS.run['seeds'])} splits and seeds; time per fit")
ax.figure.set_size_inches(9, 4.5)
ax.figure.tight_layout()

# %%
# The learned embedding
# ---------------------
# ``coefs_["embedding.weight"]`` holds one row of 8 numbers per word. The two
# principal components of the rows place the words on a plane, here for the
# balanced model of the first split after 25 and after 200 epochs; the
# colours mark the words' roles. The table starts as random N(0, 1) numbers
# and ``alpha`` does not penalise it, so the picture keeps much of that
# random start. What training adds is that words which mean the same thing
# for this question move together: the eight tens words, which can only end
# a number on a zero, draw closer to each other, and some digits sit next to
# their teens (``three`` and ``thirteen`` end a number on the same digit).
groups = {"one .. nine": UNITS, "ten .. nineteen": TEENS, "twenty .. ninety": TENS, "hundred": ["hundred"]}
tens_ids = [TOKEN_ID[word] for word in TENS]
fig, axes = plt.subplots(1, 2, figsize=(11, 5))
panels = {budget: model for budget, model in zip(
    budgets, [models['class_weight="balanced"'], long_models['class_weight="balanced"']], strict=True)}
teen_ranks = {}
for ax, (budget, model) in zip(axes, panels.items(), strict=True):
    embedding = model.coefs_["embedding.weight"]
    distances = np.linalg.norm(embedding[:, None] - embedding[None], axis=-1)
    off_diagonal = ~np.eye(len(VOCAB), dtype=bool)
    tens_block = distances[np.ix_(tens_ids, tens_ids)][off_diagonal[: len(TENS), : len(TENS)]]
    print(f"{budget}: mean distance between tens words / between all words: "
          f"{tens_block.mean() / distances[off_diagonal].mean():.2f}")
    # rank of "thirteen" among the 27 other words by distance from "three" (1: nearest), and so on
    teen_ranks[budget] = [int(np.sum(distances[TOKEN_ID[unit]][off_diagonal[TOKEN_ID[unit]]]
                                     < distances[TOKEN_ID[unit], TOKEN_ID[teen]])) + 1
                          for unit, teen in zip(UNITS, TEENS[1:], strict=True)]
    pca = PCA(n_components=2)
    points = pca.fit_transform(embedding)
    for color, (group, words) in enumerate(groups.items()):
        ids = [TOKEN_ID[word] for word in words]
        ax.scatter(points[ids, 0], points[ids, 1], color=f"C{color}", label=group)
        for i in ids:
            ax.annotate(VOCAB[i], points[i], textcoords="offset points", xytext=(4, 3), fontsize="small")
    ax.set_xlabel(f"first principal component ({pca.explained_variance_ratio_[0]:.0%} of the variance)")
    ax.set_ylabel(f"second ({pca.explained_variance_ratio_[1]:.0%})")
    ax.set_title(f"after {budget}")
axes[0].legend(loc="best", fontsize="small")
fig.suptitle(f"embedding.weight {embedding.shape} of the balanced model, PCA to 2-D")
fig.tight_layout()

print("\nhow near each digit's teen is (rank among the 27 other words, 1: nearest; 14 on average by chance)")
print(f"{'':12s}" + "".join(f"{unit:>7s}" for unit in UNITS))
for budget, ranks in teen_ranks.items():
    print(f"{budget:12s}" + "".join(f"{rank:7d}" for rank in ranks))

# %%
# Ids outside the vocabulary
# --------------------------
# The table has ``n_tokens_`` rows. An id beyond them has no row, and
# ``predict`` refuses it rather than guessing:
model = models['class_weight="balanced"']
try:
    model.predict([np.array([0, 27, model.n_tokens_])])
except ValueError as error:
    print("ValueError:", error)
plt.show()
