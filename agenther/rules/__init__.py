"""Stage 3 without an LLM: a hindsight prompt written from what the run achieved.

``decide.decide_by_rules`` tries the strategies of ``restate`` (the original request with the
wrong part restated, or the unmet constraints dropped) and of ``tool_work`` (the tool work
that succeeded, as a plain request), and scores each candidate against the run. The other
modules serve them: ``steps`` (which steps count), ``arguments`` (values read from tool
arguments), ``unmet`` (unmet requirements that are not numbers), ``subject`` (what a prompt is
about), ``figures`` (numbers a reader checks), ``facts`` (one run's facts, computed once) and
``vocabulary`` (shared word lists). ``observations`` classifies tool results for every stage;
``lexicon`` holds Stage 1's failure lexicons, ``failure_signals`` scores a run with them, and
``failure_types`` turns the signals into a type with weights fitted on the tuning sets.
"""

# Nothing is imported here: the grounding verifier, which decide_by_rules calls, itself
# imports agenther.rules.observations, so a package that loaded decide would be circular.
