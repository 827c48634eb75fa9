// TelmeHDF5: see Package.swift for this target's job.
