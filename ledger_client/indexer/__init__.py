"""The event index: every event of ChildRegistry and CrossingLedger copied into SQL.

``tables`` holds the models (on the store's ``Base``, so Alembic sees them); ``rpc``, ``events``
and ``fetch`` read and decode raw logs; ``rows`` and ``derived`` turn them into rows;
``sync`` (with ``checkpoint`` and ``reorg``) indexes and follows reorganisations; ``queries``
reads the index; ``verify`` (with ``scratch``) rebuilds it from the chain and compares. This
package imports nothing from ``services`` or ``cli``, and nothing here needs Flask.
"""
