"""The framework-neutral runtime of the commands, in numpy and the standard library.

  commands: the console scripts (quiet start, short help, early checks).
  errors: FixableError, the errors the commands print in one line.
  progress: the progress bar and log lines of a training run.
  reporting: metrics files written atomically, output checks, TensorBoard tags.
  run_directory: the run directory contract (lock, resume, settings, signals).
  local_cluster, guardian: the local process launcher and its orphan guard.
  checkpoint_names, serving: where each variable lives in a checkpoint, and
    the SavedModel signature both sides share.
  figures, confusion: PNG pictures of runs, and the confusion matrix.
Only run_directory imports TensorFlow, for tf.io.gfile (an --output_dir
may be any path TensorFlow can write); figures imports matplotlib.
"""
