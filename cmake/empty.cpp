// An empty translation unit: anchors the shared precompiled header and libraries with no sources yet.
