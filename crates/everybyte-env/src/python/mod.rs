//! Python environments: distributions, requirements, markers, lockfiles.
