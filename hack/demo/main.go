// Command demo runs appapi on this machine with no cluster: a local control
// plane, the manager, a gateway per Environment and the examples' upstream,
// then applies examples/ with kubectl, prints each token once and a curl
// line per example, and stops everything on Ctrl-C. `make demo` runs it.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/appapi-dev/appapi/api/v1alpha1"
	"github.com/appapi-dev/appapi/internal/demoupstream"
	"github.com/appapi-dev/appapi/test/harness"
)

func main() {
	root := flag.String("root", ".", "Repository root.")
	workDir := flag.String("work-dir", filepath.Join(os.TempDir(), "appapi-demo"), "Where the kubeconfig and logs go.")
	examples := flag.String("examples", "examples", "Directory of manifests to apply; relative paths are relative to --root.")
	upstream := flag.String("upstream", demoupstream.DefaultAddress, "Address of the examples' upstream; the examples expect the default.")
	flag.Parse()
	if !filepath.IsAbs(*examples) {
		*examples = filepath.Join(*root, *examples)
	}
	if err := run(*root, *workDir, *examples, *upstream); err != nil {
		fmt.Fprintf(os.Stderr, "appapi demo: FAILED: %v\n", err)
		os.Exit(1)
	}
}

func run(root, workDir, examples, upstream string) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	h, err := harness.Start(ctx, harness.Options{Root: root, WorkDir: workDir, Progress: os.Stdout,
		UpstreamAddress: upstream})
	if err != nil {
		return fmt.Errorf("%w; logs are in %s", err, workDir)
	}
	defer func() {
		fmt.Println("appapi demo: stopping every process it started")
		h.Stop()
		fmt.Println("appapi demo: stopped")
	}()

	kubectl := func(args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, filepath.Join(root, "bin", "k8s", "kubectl"), append([]string{"--kubeconfig=" + h.Kubeconfig}, args...)...)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	fmt.Printf("appapi demo: kubectl apply -R -f %s\n", examples)
	if out, err := kubectl("apply", "-R", "-f", examples); err != nil {
		return fmt.Errorf("kubectl apply: %v\n%s", err, out)
	}
	fmt.Println("appapi demo: waiting for every Environment, ApiToken and AppAPI to be Ready")
	if out, err := kubectl("wait", "--for=condition=Ready", "--timeout=120s", "environments,apitokens,appapis", "--all", "--all-namespaces"); err != nil {
		state, _ := kubectl("get", "environments,apitokens,appapis", "--all-namespaces")
		return fmt.Errorf("not everything became Ready: %v\n%s\n%s\nlogs are in %s", err, out, state, workDir)
	}
	fmt.Println("appapi demo: ready")
	if err := printUsage(ctx, h); err != nil {
		return err
	}
	fmt.Printf("\nkubectl works too: %s --kubeconfig=%s get appapis -A\n", filepath.Join(root, "bin", "k8s", "kubectl"), h.Kubeconfig)
	fmt.Println("Press Ctrl-C to stop.")
	<-ctx.Done()
	return nil
}

// printUsage prints each token once and a curl line per AppAPI, from the
// examples' demo.appapi.dev annotations.
func printUsage(ctx context.Context, h *harness.Harness) error {
	tokens := &v1alpha1.ApiTokenList{}
	apps := &v1alpha1.AppAPIList{}
	if err := h.Client.List(ctx, tokens); err != nil {
		return err
	}
	if err := h.Client.List(ctx, apps); err != nil {
		return err
	}
	fmt.Println("\nTokens (shown once; each is kept only in its Secret):")
	vars := map[string]string{}
	sort.Slice(tokens.Items, func(i, j int) bool { return tokens.Items[i].Name < tokens.Items[j].Name })
	for _, t := range tokens.Items {
		secret := &corev1.Secret{}
		if err := h.Client.Get(ctx, client.ObjectKey{Namespace: t.Namespace, Name: t.Status.SecretName}, secret); err != nil {
			return err
		}
		name := tokenVariable(t.Name)
		vars[t.Namespace+"/"+t.Name] = name
		fmt.Printf("  export %s='%s'   # ApiToken %s, environment %s\n", name, secret.Data[v1alpha1.TokenSecretKey], t.Name, t.Spec.Environment)
	}
	sort.Slice(apps.Items, func(i, j int) bool { return apps.Items[i].Name < apps.Items[j].Name })
	fmt.Println("\nTry the examples:")
	for _, a := range apps.Items {
		gw, ok := h.Gateway(a.Namespace, a.Spec.Environment)
		if !ok {
			continue
		}
		fmt.Printf("  # %s: %s %s (environment %s)\n", a.Name, a.Spec.Method, a.Spec.Path, a.Spec.Environment)
		if note := a.Annotations[annotationNote]; note != "" {
			fmt.Printf("  # %s\n", note)
			continue
		}
		fmt.Printf("  %s\n", curlLine(a, gw.URL, vars[a.Namespace+"/"+callerToken(a, tokens.Items)]))
	}
	return nil
}

// Annotations by which an example says how to call it.
const (
	annotationPath  = "demo.appapi.dev/path"
	annotationBody  = "demo.appapi.dev/body"
	annotationToken = "demo.appapi.dev/token"
	// annotationNote replaces the curl line of an example that no single
	// request can call, such as one that needs the id of a record another
	// request stores: it says where to read how to call it.
	annotationNote = "demo.appapi.dev/note"
)

// callerToken picks the ApiToken an example is called with: the one its
// annotation names, else the first it allows, else its Environment's first.
func callerToken(a v1alpha1.AppAPI, tokens []v1alpha1.ApiToken) string {
	if a.Spec.Authentication.Mode == v1alpha1.AuthenticationNone {
		return ""
	}
	if tok := a.Annotations[annotationToken]; tok != "" {
		return tok
	}
	if allowed := a.Spec.Authentication.AllowedTokens; len(allowed) > 0 {
		return allowed[0]
	}
	for _, t := range tokens {
		if t.Namespace == a.Namespace && t.Spec.Environment == a.Spec.Environment {
			return t.Name
		}
	}
	return ""
}

func curlLine(a v1alpha1.AppAPI, base, tokenVar string) string {
	parts := []string{"curl", "-s", "-i"}
	if a.Spec.Method != "GET" {
		parts = append(parts, "-X", a.Spec.Method)
	}
	if tokenVar != "" {
		parts = append(parts, "-H", fmt.Sprintf(`"Authorization: Bearer $%s"`, tokenVar))
	}
	if body := a.Annotations[annotationBody]; body != "" {
		parts = append(parts, "-H", "'Content-Type: application/json'", "-d", "'"+body+"'")
	}
	path := a.Annotations[annotationPath]
	if path == "" {
		path = a.Spec.Path
	}
	return strings.Join(append(parts, "'"+base+path+"'"), " ")
}

func tokenVariable(name string) string {
	return "TOKEN_" + strings.ToUpper(strings.NewReplacer("-", "_", ".", "_").Replace(name))
}
