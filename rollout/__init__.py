"""Rollouts between model versions, from the operator's side: the verbs that write the rollout state (local
file or EKS ConfigMap), and the gate that reads a champion/challenger pair's figures and gives a verdict.

It speaks HTTP to the gateway and Triton (locally) or goes through kubectl and Argo Rollouts (EKS); it imports
``contract`` and nothing of the gateway or the export (make lint's import contracts). docs/rollouts.md.
"""
