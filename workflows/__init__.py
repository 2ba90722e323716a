"""Pure workflow definitions: the case state machine, its rules, facts and policy parameters.

Nothing here touches a database or HTTP, so every rule can be tested alone and every
version of the machine stays importable for replay.
"""
