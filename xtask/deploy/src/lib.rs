//! Deploying an assembly (being moved here from xtask/src/deploy).
