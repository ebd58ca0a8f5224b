//! ENV007: two distributions install the same file.

everybyte_core::declare_rule! {
    /// ## What it checks
    /// The `RECORD` files of all distributions in one `site-packages`: a path listed by two
    /// different distributions with different contents (different recorded hashes, or no
    /// hash). Reported once per pair of distributions with the number of shared files and one
    /// example. Files recorded with the same hash by both (the empty `nvidia/__init__.py` of
    /// the `nvidia-*-cu12` namespace wheels) are identical and not reported; `__pycache__`
    /// files are ignored.
    /// ## Why it matters
    /// The last one installed wins, file by file: `import foo` may load code from one
    /// package mixed with modules of the other (`opencv-python` and `opencv-python-headless`
    /// both writing `cv2/`), and uninstalling either deletes files the other still needs.
    /// ## Example
    /// ```text
    /// site-packages/opencv_python-4.8.1.78.dist-info  warning  ENV007
    ///   opencv-python 4.8.1.78 and opencv-python-headless 4.8.1.78 both install 412 files,
    ///   e.g. cv2/__init__.py
    /// ```
    /// ## Fix
    /// Keep one of the two: uninstall both, then install only the one you need
    /// (`pip uninstall -y opencv-python opencv-python-headless && pip install
    /// opencv-python-headless`).
    pub static MODULE_CONFLICT = { code: "ENV007", name: "module-conflict", severity: Warning, summary: "Two distributions install the same file" };
}
