// Runs an Argo CD health script under gopher-lua, the interpreter Argo CD uses,
// in the environment Argo CD gives health scripts (facts read from argo-cd's
// util/lua/lua.go at 37ee0097): only the package, base and table libraries (its
// "safe os" registers nothing a health script can reach without require, and
// ours never requires it, so it is left out), the object as the global `obj`
// (JSON objects and arrays as tables, arrays 1-based, numbers as Lua numbers), a
// 1 s deadline, and a returned table read as {status, message}, an unknown
// status becoming Unknown.
//
//	gopher-lua-health SCRIPT < object.json
//
// Prints {"status": ..., "message": ...}; exits 1 with the error on stderr if the
// script fails or returns something other than a table or nil.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	lua "github.com/yuin/gopher-lua"
)

type health struct {
	Status  string `json:"status"`
	Message string `json:"message"`
}

// The statuses Argo CD knows; anything else is reported as Unknown.
var knownStatuses = map[string]bool{"Unknown": true, "Progressing": true, "Suspended": true, "Healthy": true, "Degraded": true, "Missing": true}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: gopher-lua-health SCRIPT < object.json")
		os.Exit(2)
	}
	h, err := evaluate(os.Args[1], os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	out, _ := json.Marshal(h)
	fmt.Println(string(out))
}

func evaluate(scriptPath string, in io.Reader) (health, error) {
	script, err := os.ReadFile(scriptPath)
	if err != nil {
		return health{}, err
	}
	var obj any
	dec := json.NewDecoder(in)
	dec.UseNumber()
	if err := dec.Decode(&obj); err != nil {
		return health{}, fmt.Errorf("reading the object from stdin: %w", err)
	}

	l := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer l.Close()
	for name, open := range map[string]lua.LGFunction{lua.LoadLibName: lua.OpenPackage, lua.BaseLibName: lua.OpenBase, lua.TabLibName: lua.OpenTable} {
		if err := l.CallByParam(lua.P{Fn: l.NewFunction(open), NRet: 0, Protect: true}, lua.LString(name)); err != nil {
			return health{}, fmt.Errorf("opening %s: %w", name, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	l.SetContext(ctx)
	l.SetGlobal("obj", toLua(l, obj))

	if err := l.DoString(string(script)); err != nil {
		return health{}, fmt.Errorf("health script failed: %w", err)
	}
	switch ret := l.Get(-1).(type) {
	case *lua.LNilType:
		return health{}, nil
	case *lua.LTable:
		h := health{Status: stringField(ret, "status"), Message: stringField(ret, "message")}
		if h.Status != "" && !knownStatuses[h.Status] {
			return health{Status: "Unknown", Message: "Lua returned an invalid health status"}, nil
		}
		return h, nil
	default:
		return health{}, fmt.Errorf("health script returned a %s, not a table", ret.Type())
	}
}

func stringField(t *lua.LTable, key string) string {
	if s, ok := t.RawGetString(key).(lua.LString); ok {
		return string(s)
	}
	return ""
}

// toLua turns a decoded JSON value into the Lua value a health script sees.
func toLua(l *lua.LState, v any) lua.LValue {
	switch x := v.(type) {
	case bool:
		return lua.LBool(x)
	case string:
		return lua.LString(x)
	case json.Number:
		f, _ := x.Float64()
		return lua.LNumber(f)
	case []any:
		t := l.NewTable()
		for i, e := range x {
			t.RawSetInt(i+1, toLua(l, e))
		}
		return t
	case map[string]any:
		t := l.NewTable()
		for k, e := range x {
			t.RawSetString(k, toLua(l, e))
		}
		return t
	default:
		return lua.LNil
	}
}
