"""What every stage shares: errors and exit codes, bounded readers, atomic writers, the data folders, JSON
pointers, number wording, progress bars and the runtime facts (launch, rank, memory).

Nothing here imports a stage, torch or transformers."""
