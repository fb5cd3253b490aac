"""Live evaluation: subgroup forming (`former`) and per-characteristic monitors (`engine`)."""
