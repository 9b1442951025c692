"""What a message says: the sandboxed templates and their variables (:mod:`templates`,
:mod:`filters`), content groups and their placeholders (:mod:`groups`), signed links
(:mod:`links`), composing a stage's batches (:mod:`compose`), the RFC 5322 message
(:mod:`message`) and ``anniversary check`` (:mod:`check`)."""
