// Runs `helm lint` and `helm template` through helm-java (the real Helm engine,
// in-process, no helm binary) for a batch of requests, one JVM for all of them.
//
//   java -cp '<lib>/*' HelmCheck.java <request>...
//   request: lint|<chartDir>|<outFile>            → outFile: "failed" or "ok", then one message per line
//            template|<chartDir>|<valuesFile>|<outFile>[|<release>|<namespace>[|<key>=<value>...]]
//                                                  → outFile: the manifests;
//                                                    on error <outFile>.err: Helm's message
//            notes|<chartDir>|<valuesFile>|<outFile>[|<release>|<namespace>[|<key>=<value>...]]
//                                                  → outFile: the rendered NOTES.txt (`helm install --dry-run`,
//                                                    client only: no cluster); on error <outFile>.err
//            (release and namespace default to cdcv; each <key>=<value> is a `--set`)
// Exit code 0 when every request was carried out (a failed render is a result, not an error).
import com.marcnuri.helm.Helm;
import com.marcnuri.helm.InstallCommand;
import com.marcnuri.helm.LintResult;
import com.marcnuri.helm.TemplateCommand;
import java.nio.file.Files;
import java.nio.file.Path;

public class HelmCheck {
  // the Kubernetes version templates render for (Helm's default, 1.20, is below the chart's kubeVersion)
  static final String KUBE_VERSION = "1.30.0";

  public static void main(String[] args) throws Exception {
    for (String request : args) {
      String[] p = request.split("\\|", -1);
      Helm helm = new Helm(Path.of(p[1]));
      switch (p[0]) {
        case "lint" -> {
          LintResult r = helm.lint().strict().call();
          Files.writeString(Path.of(p[2]), (r.isFailed() ? "failed" : "ok") + "\n" + String.join("\n", r.getMessages()));
        }
        case "template" -> {
          Path out = Path.of(p[3]);
          try {
            TemplateCommand t = helm.template().withName(release(p)).withNamespace(namespace(p)).withKubeVersion(KUBE_VERSION);
            if (!p[2].isEmpty()) t = t.withValuesFile(Path.of(p[2]));
            for (String[] kv : sets(p)) t = t.set(kv[0], kv[1]);
            Files.writeString(out, t.call());
          } catch (RuntimeException e) {
            Files.writeString(Path.of(p[3] + ".err"), String.valueOf(e.getMessage()));
          }
        }
        case "notes" -> {
          try {
            InstallCommand i = helm.install().withName(release(p)).withNamespace(namespace(p)).withKubeVersion(KUBE_VERSION).dryRun().clientOnly();
            if (!p[2].isEmpty()) i = i.withValuesFile(Path.of(p[2]));
            for (String[] kv : sets(p)) i = i.set(kv[0], kv[1]);
            String output = i.call().getOutput();
            int at = output.indexOf("NOTES:\n");
            Files.writeString(Path.of(p[3]), at < 0 ? "" : output.substring(at + "NOTES:\n".length()));
          } catch (RuntimeException e) {
            Files.writeString(Path.of(p[3] + ".err"), String.valueOf(e.getMessage()));
          }
        }
        default -> throw new IllegalArgumentException("unknown request " + request);
      }
    }
  }

  static String release(String[] p) {
    return p.length > 4 ? p[4] : "cdcv";
  }

  static String namespace(String[] p) {
    return p.length > 5 ? p[5] : "cdcv";
  }

  /** The `--set` entries of a request: fields 6… as key=value. */
  static java.util.List<String[]> sets(String[] p) {
    java.util.List<String[]> out = new java.util.ArrayList<>();
    for (int i = 6; i < p.length; i++) {
      int eq = p[i].indexOf('=');
      if (eq <= 0) throw new IllegalArgumentException("expected key=value, got " + p[i]);
      out.add(new String[] {p[i].substring(0, eq), p[i].substring(eq + 1)});
    }
    return out;
  }
}
