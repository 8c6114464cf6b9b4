module github.com/backendapp-operator/backendapp-operator/hack/gopher-lua

// Runs Argo CD health scripts under gopher-lua, at the version Argo CD pins
// (argo-cd go.mod at 37ee0097cf851bc2dd7665fc081bbce61a7e836e).

go 1.24

require github.com/yuin/gopher-lua v1.1.2
