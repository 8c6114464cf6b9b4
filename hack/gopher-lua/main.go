// Runs an Argo CD health script under gopher-lua the way Argo CD does
// (github.com/argoproj/argo-cd util/lua/lua.go, runLuaWithResourceActionParameters
// and ExecuteHealthLua at 37ee0097cf851bc2dd7665fc081bbce61a7e836e): no libraries
// but package, base, table and Argo CD's safe os (OpenSafeOs, which registers under
// "table" and so adds nothing, and a preloaded "os" with time and date that only
// require("os") reaches), `obj` set from the
// object, a 1 s deadline, the returned table encoded with gopher-json and read
// into {status, message}, and an unknown status turned into Unknown.
//
//	gopher-lua-health SCRIPT < object.json
//
// Prints {"status": ..., "message": ...} on stdout; exits 1 with the error on
// stderr if the script fails or returns something other than a table or nil.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	lua "github.com/yuin/gopher-lua"
	luajson "layeh.com/gopher-json"
)

type healthStatus struct {
	Status  string `json:"status,omitempty"`
	Message string `json:"message,omitempty"`
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: gopher-lua-health SCRIPT < object.json")
		os.Exit(2)
	}
	hs, err := run(os.Args[1], os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	out, _ := json.Marshal(map[string]string{"status": hs.Status, "message": hs.Message})
	fmt.Println(string(out))
}

func run(scriptPath string, in io.Reader) (*healthStatus, error) {
	script, err := os.ReadFile(scriptPath)
	if err != nil {
		return nil, err
	}
	obj, err := readObject(in)
	if err != nil {
		return nil, fmt.Errorf("reading the object from stdin: %w", err)
	}

	l := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer l.Close()
	for _, pair := range []struct {
		n string
		f lua.LGFunction
	}{
		{lua.LoadLibName, lua.OpenPackage},
		{lua.BaseLibName, lua.OpenBase},
		{lua.TabLibName, lua.OpenTable},
		{lua.OsLibName, OpenSafeOs},
	} {
		if err := l.CallByParam(lua.P{Fn: l.NewFunction(pair.f), NRet: 0, Protect: true}, lua.LString(pair.n)); err != nil {
			return nil, err
		}
	}
	l.PreloadModule(lua.OsLibName, SafeOsLoader)

	ctx, cancel := context.WithTimeout(context.Background(), 1*time.Second)
	defer cancel()
	l.SetContext(ctx)

	l.SetGlobal("actionParams", l.CreateTable(0, 0))
	l.SetGlobal("obj", decodeValue(l, obj))

	fn, err := l.LoadString(string(script))
	if err == nil {
		l.Push(fn)
		err = l.PCall(0, lua.MultRet, nil)
	}
	if err != nil {
		return nil, fmt.Errorf("health script failed: %w", err)
	}

	returnValue := l.Get(-1)
	switch returnValue.Type() {
	case lua.LTNil:
		return &healthStatus{}, nil
	case lua.LTTable:
	default:
		return nil, fmt.Errorf("health script returned a %s, not a table", returnValue.Type())
	}
	jsonBytes, err := luajson.Encode(returnValue)
	if err != nil {
		return nil, err
	}
	hs := &healthStatus{}
	if err := json.Unmarshal(jsonBytes, hs); err != nil {
		// An empty table encodes as []: Argo CD takes it as an empty status.
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) && typeErr.Value == "array" {
			return &healthStatus{}, nil
		}
		return nil, err
	}
	switch hs.Status {
	case "Unknown", "Progressing", "Suspended", "Healthy", "Degraded", "Missing":
		return hs, nil
	}
	return &healthStatus{Status: "Unknown", Message: "Lua returned an invalid health status"}, nil
}

// readObject decodes JSON as Kubernetes does for unstructured objects: whole
// numbers become int64, other numbers float64.
func readObject(in io.Reader) (any, error) {
	data, err := io.ReadAll(in)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errors.New("trailing data after the JSON value")
	}
	return convertNumbers(v), nil
}

func convertNumbers(v any) any {
	switch t := v.(type) {
	case json.Number:
		if i, err := t.Int64(); err == nil {
			return i
		}
		f, _ := t.Float64()
		return f
	case []any:
		for i := range t {
			t[i] = convertNumbers(t[i])
		}
	case map[string]any:
		for k := range t {
			t[k] = convertNumbers(t[k])
		}
	}
	return v
}

// decodeValue is Argo CD's util/lua decodeValue, unchanged.
func decodeValue(l *lua.LState, value any) lua.LValue {
	switch converted := value.(type) {
	case bool:
		return lua.LBool(converted)
	case float64:
		return lua.LNumber(converted)
	case string:
		return lua.LString(converted)
	case json.Number:
		return lua.LString(converted)
	case int:
		return lua.LNumber(converted)
	case int32:
		return lua.LNumber(converted)
	case int64:
		return lua.LNumber(converted)
	case []any:
		arr := l.CreateTable(len(converted), 0)
		for _, item := range converted {
			arr.Append(decodeValue(l, item))
		}
		return arr
	case map[string]any:
		tbl := l.CreateTable(0, len(converted))
		for key, item := range converted {
			tbl.RawSetH(lua.LString(key), decodeValue(l, item))
		}
		return tbl
	case nil:
		return lua.LNil
	}
	return lua.LNil
}
