// Runs `helm lint` and `helm template` through helm-java (the real Helm engine,
// in-process, no helm binary) for a batch of requests, one JVM for all of them.
//
//   java -cp '<lib>/*' HelmCheck.java <request>...
//   request: lint|<chartDir>|<outFile>            → outFile: "failed" or "ok", then one message per line
//            template|<chartDir>|<valuesFile>|<outFile>  → outFile: the manifests;
//                                                    on error <outFile>.err: Helm's message
// Exit code 0 when every request was carried out (a failed render is a result, not an error).
import com.marcnuri.helm.Helm;
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
            TemplateCommand t = helm.template().withName("cdcv").withNamespace("cdcv").withKubeVersion(KUBE_VERSION);
            if (!p[2].isEmpty()) t = t.withValuesFile(Path.of(p[2]));
            Files.writeString(out, t.call());
          } catch (RuntimeException e) {
            Files.writeString(Path.of(p[3] + ".err"), String.valueOf(e.getMessage()));
          }
        }
        default -> throw new IllegalArgumentException("unknown request " + request);
      }
    }
  }
}
