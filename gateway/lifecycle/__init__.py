"""Model lifecycle: two versions served at once, following the rollout state file (contract.rollout).

``split`` (who answers, what is shadowed, what is shed), ``compare`` (two answers for one text) and ``changes``
(what a new state opens and closes, whether it may be applied) are pure; ``versions`` opens and retires one
service per version, and ``rollout`` follows the file and routes each request.
"""
