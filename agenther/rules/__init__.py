"""Stage 1's and Stage 3's rule modes: a failure typed from the run's own text, and a
hindsight prompt written from what the run achieved.

Stage 3: ``decide.decide_by_rules`` tries the strategies and scores each candidate against the
run (``facts``: one run's facts, computed once; ``seams``: whether a cut left a broken
sentence). The strategies: ``restate`` and ``swapped_name`` (``actual_result``: the request
with the wrong part restated or the other named thing swapped in), ``drop_constraint`` and
``drop_foreign_constraint`` (the unmet limits cut out, with ``cut_repair`` mending what a cut
leaves), ``clauses`` (``drop_action``/``drop_detail``: the request without the
part the run left out, read with ``actions``, which cuts a request into its actions, and
``negation``, which reads what the failure reason says was not done), ``drop_entity`` (one of
two named things) and ``tool_work`` (the tool work that succeeded, as a plain request). They
share ``steps`` (which steps count), ``arguments`` (values read from tool arguments), ``unmet``
(unmet requirements that are not numbers), ``subject`` (what a prompt is about), ``figures``
(numbers a reader checks) and ``vocabulary`` (word lists). ``observations`` classifies tool
results for every stage.

Stage 1: ``lexicon`` holds the failure lexicons, ``failure_signals`` scores a run with them,
and ``failure_types`` turns the signals into a type with weights fitted on the tuning sets.
"""

# Nothing is imported here: the grounding verifier, which decide_by_rules calls, itself
# imports agenther.rules.observations, so a package that loaded decide would be circular.
